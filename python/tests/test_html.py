"""`Report.to_html()`: the self-contained review page."""

from __future__ import annotations

import base64
import io
import pathlib
import re
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

import trueshot
from conftest import claim, listing, make_pixels, png_bytes

WORDS = {
    "authentic": "Authentic",
    "inconclusive": "Inconclusive",
    "edited": "Edited",
    "ai_generated": "AI-generated",
}
ATTACK = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


def png_with_parameters(text: str) -> bytes:
    """A PNG whose AUTOMATIC1111 `parameters` chunk holds `text`: the
    provenance detector calls it AI-generated and quotes the text."""
    info = PngInfo()
    info.add_text("parameters", text)
    out = io.BytesIO()
    Image.fromarray(make_pixels(96, 128, 3)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def test_page_names_the_verdict_and_escapes_file_strings() -> None:
    report = trueshot.analyze(png_with_parameters(f"{ATTACK} Steps: 20, Sampler: Euler"))
    assert report.verdict == "ai_generated"
    page = report.to_html(title="<b>claim</b>.png")
    assert page.startswith("<!DOCTYPE html>")
    assert WORDS[report.verdict] in page
    # The attack is shown as text, never as markup.
    assert "<script>alert" not in page
    assert "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&quot;pwned&quot;)" in page
    assert "<b>claim</b>" not in page and "&lt;b&gt;claim&lt;/b&gt;.png" in page


@pytest.mark.parametrize("kind", ["path", "bytes", "array"])
def test_every_input_kind_renders(kind: str, tmp_path: pathlib.Path) -> None:
    pixels = make_pixels(64, 80, 3)
    path = tmp_path / "claim.png"
    path.write_bytes(png_bytes(pixels))
    images: dict[str, Any] = {"path": str(path), "bytes": png_bytes(pixels), "array": pixels}
    image = images[kind]
    report = trueshot.analyze(image)
    page = report.to_html(lang="zh")
    assert WORDS[report.verdict] in page
    assert 'lang="zh-Hans"' in page
    if kind == "path":
        assert "claim.png" in page  # the file name is the default title
    # Deterministic: the same report gives the same bytes.
    assert page == report.to_html(lang="zh")


def test_changed_or_missing_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "claim.png"
    path.write_bytes(png_bytes(make_pixels(64, 80, 3)))
    report = trueshot.analyze(path)
    path.write_bytes(png_bytes(make_pixels(64, 80, 3, seed=8)))
    with pytest.raises(trueshot.InputChangedError, match="changed since it was analysed") as info:
        report.to_html()
    # Caught as a trueshot error and, as before, as a RuntimeError.
    assert isinstance(info.value, trueshot.TrueshotError)
    assert isinstance(info.value, RuntimeError)
    assert getattr(info.value, "code") == "changed"
    path.unlink()
    with pytest.raises(FileNotFoundError):
        report.to_html()


def test_bad_options() -> None:
    report = trueshot.analyze(make_pixels(32, 32, 3))
    with pytest.raises(ValueError, match="lang"):
        report.to_html(lang="fr")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_side"):
        report.to_html(max_side=10)
    with pytest.raises(ValueError, match="max_side"):
        report.to_html(max_side=-1)


def test_heatmap_png() -> None:
    report = trueshot.analyze(make_pixels(50, 70, 3))
    png = report.heatmap_png()
    assert png is not None
    with Image.open(io.BytesIO(png)) as decoded:
        assert decoded.mode == "L" and decoded.size == (70, 50)
    no_map = trueshot.analyze(make_pixels(50, 70, 3), config=trueshot.Config(heatmap=False))
    assert no_map.heatmap_png() is None


PHOTO_TAG = re.compile(
    r'<img class="photo" src="data:image/jpeg;base64,([^"]+)" width="(\d+)" height="(\d+)" alt="([^"/]*) /'
)


def shown_photos(page: str) -> dict[str, tuple[tuple[int, int], tuple[int, int]]]:
    """Per embedded photo (by the English part of its alt text): the size
    its tag gives and the size of the JPEG embedded."""
    shown = {}
    for data, width, height, alt in PHOTO_TAG.findall(page):
        with Image.open(io.BytesIO(base64.b64decode(data))) as picture:
            shown[alt] = ((int(width), int(height)), picture.size)
    return shown


def with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The JPEG re-saved with an EXIF orientation tag (as a phone stores a
    photo taken upright: the sensor's landscape pixels, and a tag saying
    to turn them)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    with Image.open(io.BytesIO(jpeg)) as decoded:
        decoded.save(out, format="JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize("kind", ["path", "bytes"])
def test_a_sideways_photo_is_shown_upright(kind: str, tmp_path: pathlib.Path) -> None:
    # Stored 96 wide and 64 high; EXIF orientation 6 turns it a quarter.
    stored = io.BytesIO()
    Image.fromarray(make_pixels(64, 96, 3)).save(stored, format="JPEG", quality=92)
    data = with_orientation(stored.getvalue(), 6)
    path = tmp_path / "sideways.jpg"
    path.write_bytes(data)
    image: Any = str(path) if kind == "path" else data
    report = trueshot.analyze(image)
    assert report.provenance["orientation"] == 6
    page = report.to_html()
    assert shown_photos(page)["The claim photo"] == ((64, 96), (64, 96))
    assert "as the EXIF orientation asks" in page
    # Pixels carry no orientation: an array is shown as it is given.
    as_array = trueshot.analyze(make_pixels(64, 96, 3)).to_html()
    assert shown_photos(as_array)["The claim photo"] == ((96, 64), (96, 64))
    assert "as the EXIF orientation asks" not in as_array


def test_a_listing_aligned_to_a_sideways_claim_turns_with_it() -> None:
    # The claim is a doctored copy of the listing (landscape), stored with
    # orientation 6: the page shows both upright, the listing in the
    # claim's frame.
    source = listing(1)
    report = trueshot.analyze(with_orientation(claim(source, damage=True), 6), reference=source)
    assert report.reference is not None and report.reference["derived"] is True
    shown = shown_photos(report.to_html())
    (claim_tag, claim_size) = shown["The claim photo"]
    (listing_tag, listing_size) = shown["The listing photo"]
    assert claim_tag == claim_size and claim_size[0] < claim_size[1], shown
    assert listing_tag == listing_size and listing_size[0] < listing_size[1], shown
