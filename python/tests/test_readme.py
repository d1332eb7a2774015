"""The README's Python example, run as written (tokenizers `test_quicktour.py`).

Keep the snippet between the markers identical to the README's "Python" section.
"""

from __future__ import annotations

import pathlib

import pytest
from PIL import Image

from conftest import make_pixels


def test_readme_example(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Image.fromarray(make_pixels(120, 160, 3)).save("claim.jpg", quality=92)

    # START
    import trueshot

    report = trueshot.analyze("claim.jpg")  # or bytes, a numpy uint8 array, a PIL image
    print(report.verdict, f"{report.score:.2f}")  # e.g. "authentic 0.04"
    for finding in report.findings:  # strongest evidence first
        print(f"  [{finding.score:.2f}] {finding.code}: {finding.message}")
    if report.heatmap is not None:  # float32 (H, W) in [0, 1]; >= 0.5 = flagged
        print(f"flagged area: {(report.heatmap >= 0.5).mean():.1%}")
        trueshot.write_heatmap_png(report, "claim.heatmap.png")  # 8-bit grey, no Pillow needed
    # END

    out = capsys.readouterr().out
    assert out.startswith(report.verdict)
    with Image.open("claim.heatmap.png") as heatmap:
        assert heatmap.size == (160, 120)
