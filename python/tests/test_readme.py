"""The README's Python example, run as written (tokenizers `test_quicktour.py`).

Keep the snippet between the markers identical to the README's "Python" section.
"""

from __future__ import annotations

import pathlib
import re
import textwrap

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


def _snippet() -> str:
    """The lines between the markers above, dedented."""
    lines = pathlib.Path(__file__).read_text(encoding="utf-8").splitlines()
    start = lines.index("    # START") + 1
    end = lines.index("    # END")
    return textwrap.dedent("\n".join(lines[start:end])).strip()


def _python_blocks(readme: pathlib.Path) -> list[str]:
    return [b.strip() for b in re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)]


@pytest.mark.parametrize("readme", ["README.md", "../README.md"])
def test_readme_shows_the_tested_snippet(readme: str) -> None:
    path = pathlib.Path(__file__).resolve().parent.parent / readme
    blocks = _python_blocks(path) if path.exists() else []
    if readme == "../README.md" and not blocks:
        pytest.skip("the repository README has no Python section yet")
    assert _snippet() in blocks
