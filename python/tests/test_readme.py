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


def test_readme_reference_example(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import claim, listing

    monkeypatch.chdir(tmp_path)
    Image.fromarray(listing(5)).save("listing-1.png")
    Image.fromarray(listing(1)).save("listing-2.png")
    pathlib.Path("claim.jpg").write_bytes(claim(listing(1), damage=True))

    # START reference
    import trueshot

    report = trueshot.analyze("claim.jpg", reference=["listing-1.png", "listing-2.png"])
    match = report.reference  # None without a reference
    if match is not None and match["derived"]:
        print(f"made from listing #{match['index']}: {match['changed_fraction']:.1%} changed")
    print(report.verdict)  # a derived photo with painted damage is "edited"
    with open("claim.html", "w", encoding="utf-8") as page:  # self-contained, EN + 中文
        page.write(report.to_html(title="claim.jpg"))
    # END reference

    out = capsys.readouterr().out
    assert out == f"made from listing #1: {match['changed_fraction']:.1%} changed\nedited\n"  # type: ignore[index]
    assert "Edited" in pathlib.Path("claim.html").read_text(encoding="utf-8")


def test_readme_catalogue_example(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    import conftest  # not `from conftest import listing`: the snippet names its catalogue so

    monkeypatch.chdir(tmp_path)
    Image.fromarray(conftest.listing(5)).save("listing-1.png")
    Image.fromarray(conftest.listing(1)).save("listing-2.png")
    pathlib.Path("claim-1.jpg").write_bytes(conftest.claim(conftest.listing(1), damage=True))
    pathlib.Path("claim-2.jpg").write_bytes(conftest.claim(conftest.listing(1), damage=False))

    # START catalogue
    import trueshot

    listing = trueshot.References(["listing-1.png", "listing-2.png"])  # read and indexed once
    for path in ["claim-1.jpg", "claim-2.jpg"]:
        report = trueshot.analyze(path, reference=listing)  # compared, not indexed again
        print(path, report.verdict)
    # END catalogue

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "claim-1.jpg edited"
    assert lines[1].startswith("claim-2.jpg ") and lines[1] != "claim-2.jpg edited"


def _snippet(name: str = "") -> str:
    """The lines between the markers above, dedented."""
    lines = pathlib.Path(__file__).read_text(encoding="utf-8").splitlines()
    suffix = f" {name}" if name else ""
    start = lines.index(f"    # START{suffix}") + 1
    end = lines.index(f"    # END{suffix}")
    return textwrap.dedent("\n".join(lines[start:end])).strip()


def _python_blocks(readme: pathlib.Path) -> list[str]:
    return [b.strip() for b in re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)]


@pytest.mark.parametrize("readme", ["README.md", "../README.md"])
@pytest.mark.parametrize("name", ["", "reference", "catalogue"])
def test_readme_shows_the_tested_snippet(readme: str, name: str) -> None:
    path = pathlib.Path(__file__).resolve().parent.parent / readme
    blocks = _python_blocks(path) if path.exists() else []
    # Until the repository README has a section with this example, skip; once
    # it has one, it must be the tested snippet.
    marker = {"": "trueshot.analyze(", "reference": "reference=[",
              "catalogue": "trueshot.References("}[name]
    if readme == "../README.md" and not any(marker in b for b in blocks):
        pytest.skip("the repository README has no such Python example yet")
    assert _snippet(name) in blocks
